'use client';
import { useQuery } from '@tanstack/react-query';
import { useRef, useState, type KeyboardEvent } from 'react';
import { LIVE_QUERY_OPTIONS } from '~/client/queries';
import { useTRPC } from '~/client/trpc';
import { LIMITS } from '~/shared/limits';
import type { MessageDTO } from '~/shared/types';

/** The quick reactions offered (the API takes any single emoji). */
export const QUICK_REACTIONS = [
  ['👍', 'thumbs up'],
  ['❤️', 'heart'],
  ['😄', 'smile'],
  ['🎉', 'party'],
  ['👀', 'eyes'],
  ['🚀', 'rocket'],
] as const;

/**
 * The toolbar of one stored message: shown on hover and on keyboard focus (it is always in the tab
 * order). Edit for the author; Delete for the author and the project owner (moderation), behind a
 * confirmation; React opens the quick set.
 */
export function MessageToolbar({
  message,
  viewerId,
  onEdit,
  onDelete,
  onReact,
}: {
  message: MessageDTO;
  viewerId: string;
  onEdit: () => void;
  onDelete: () => void;
  onReact: (emoji: string) => void;
}) {
  const trpc = useTRPC();
  const { data: project } = useQuery(trpc.project.get.queryOptions({ projectId: message.projectId }, LIVE_QUERY_OPTIONS));
  const [panel, setPanel] = useState<'none' | 'react' | 'confirm'>('none');
  const reactButton = useRef<HTMLButtonElement>(null);
  if (message.deleted || message.status === 'streaming') return null;
  const mine = message.authorId === viewerId;
  const canDelete = mine || project?.ownerId === viewerId;

  function close() {
    setPanel('none');
    requestAnimationFrame(() => reactButton.current?.focus());
  }

  return (
    <div className={`msg-toolbar${panel !== 'none' ? ' open' : ''}`} role="toolbar" aria-label="Message actions">
      {panel === 'confirm' ? (
        <span className="msg-confirm" role="group" aria-label="Confirm delete">
          <span className="small">Delete this message?</span>
          <button
            type="button"
            className="button danger small"
            onClick={() => {
              setPanel('none');
              onDelete();
            }}
          >
            Yes, delete
          </button>
          <button type="button" className="button subtle small" autoFocus onClick={close}>
            Cancel
          </button>
        </span>
      ) : (
        <>
          <button ref={reactButton} type="button" className="button subtle small" aria-expanded={panel === 'react'} onClick={() => setPanel(panel === 'react' ? 'none' : 'react')}>
            React
          </button>
          {mine && message.role === 'user' && (
            <button type="button" className="button subtle small" onClick={onEdit}>
              Edit
            </button>
          )}
          {canDelete && (
            <button type="button" className="button subtle small" onClick={() => setPanel('confirm')}>
              Delete
            </button>
          )}
        </>
      )}
      {panel === 'react' && (
        <span className="emoji-picker" role="group" aria-label="Pick a reaction" onKeyDown={(e) => e.key === 'Escape' && close()}>
          {QUICK_REACTIONS.map(([emoji, name], i) => (
            <button
              key={emoji}
              type="button"
              className="button subtle small"
              aria-label={`React with ${name}`}
              title={name}
              autoFocus={i === 0}
              onClick={() => {
                close();
                onReact(emoji);
              }}
            >
              {emoji}
            </button>
          ))}
        </span>
      )}
    </div>
  );
}

/** Edits a message in place: Enter saves, Shift+Enter adds a line, Esc cancels. */
export function MessageEditor({ message, onSave, onCancel }: { message: MessageDTO; onSave: (content: string) => void; onCancel: () => void }) {
  const [text, setText] = useState(message.content);
  const [error, setError] = useState<string | null>(null);

  function save() {
    if (text.trim().length === 0) return setError('Message must not be empty');
    if (text === message.content) return onCancel();
    onSave(text);
  }

  function onKeyDown(e: KeyboardEvent<HTMLTextAreaElement>) {
    if (e.key === 'Escape') {
      e.preventDefault();
      onCancel();
    } else if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      save();
    }
  }

  return (
    <form
      className="msg-edit"
      onSubmit={(e) => {
        e.preventDefault();
        save();
      }}
    >
      <textarea
        aria-label="Edit message"
        value={text}
        maxLength={LIMITS.messageContentMax}
        autoFocus
        rows={Math.min(8, text.split('\n').length + 1)}
        onChange={(e) => setText(e.target.value)}
        onKeyDown={onKeyDown}
      />
      <div className="msg-edit-actions">
        <button type="submit" className="button primary small">
          Save
        </button>
        <button type="button" className="button subtle small" onClick={onCancel}>
          Cancel
        </button>
        <span className="muted small">Enter to save, Esc to cancel</span>
      </div>
      {error && (
        <p className="form-error small" role="alert">
          {error}
        </p>
      )}
    </form>
  );
}
