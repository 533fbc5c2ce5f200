'use client';
import { useQuery } from '@tanstack/react-query';
import { groupReactions } from '~/client/cache-updates';
import { LIVE_QUERY_OPTIONS } from '~/client/queries';
import { useTRPC } from '~/client/trpc';
import type { MessageDTO } from '~/shared/types';

/** One chip per emoji: the count, who reacted (name and tooltip), pressed when it holds yours; a click toggles yours. */
export function ReactionChips({
  message,
  viewerId,
  onToggle,
}: {
  message: MessageDTO;
  viewerId: string;
  onToggle: (emoji: string) => void;
}) {
  const trpc = useTRPC();
  const { data: project } = useQuery(trpc.project.get.queryOptions({ projectId: message.projectId }, LIVE_QUERY_OPTIONS));
  const groups = groupReactions(message.reactions);
  if (groups.length === 0) return null;
  const nameOf = (id: string) =>
    id === viewerId ? 'you' : (project?.members.find((m) => m.id === id)?.username ?? 'a former member');
  return (
    <ul className="reactions" aria-label="Reactions">
      {groups.map(({ emoji, userIds }) => {
        const who = `${emoji} ${userIds.length}: ${userIds.map(nameOf).join(', ')}`;
        return (
          <li key={emoji}>
            <button
              type="button"
              className="reaction-chip"
              aria-pressed={userIds.includes(viewerId)}
              aria-label={who}
              title={who}
              onClick={() => onToggle(emoji)}
            >
              <span aria-hidden="true">{emoji}</span> <span className="reaction-count">{userIds.length}</span>
            </button>
          </li>
        );
      })}
    </ul>
  );
}
