'use client';
import { useTypists } from '~/client/use-typing';

/** "ada is typing…" under the log; a polite live region, so screen readers hear it without losing their place. */
export function TypingIndicator({ projectId, sessionId, viewerId }: { projectId: string; sessionId: string; viewerId: string }) {
  const names = useTypists(projectId, sessionId, viewerId);
  const text =
    names.length === 0
      ? ''
      : names.length === 1
        ? `${names[0]} is typing…`
        : names.length <= 3
          ? `${names.slice(0, -1).join(', ')} and ${names.at(-1)} are typing…`
          : 'Several people are typing…';
  return (
    <p className="typing-indicator small muted" role="status" aria-label="Typing" aria-live="polite">
      {text}
    </p>
  );
}
