'use client';
import { memo, useContext, useState } from 'react';
import { isProvisional, type OutboxEntry } from '~/client/cache-updates';
import { useMessageActions } from '~/client/use-message-actions';
import { AI_VERIFY_BELOW } from '~/shared/ai';
import { mentionsUser } from '~/shared/mentions';
import type { MessageDTO } from '~/shared/types';
import { AiAnswerControls } from './ai-answer-controls';
import { Avatar } from './avatar';
import { Markdown, MentionContext } from './markdown';
import { MessageEditor, MessageToolbar } from './message-actions';
import { ReactionChips } from './reaction-chips';
import { When } from './when';

/** The AI PM's answers below this confidence are marked for a human to check (seed rule). */
export const VERIFY_BELOW = AI_VERIFY_BELOW;

export const StoredMessage = memo(function StoredMessage({ message, viewerId }: { message: MessageDTO; viewerId: string }) {
  const mine = message.authorId === viewerId;
  const actions = useMessageActions(message, viewerId);
  const [editing, setEditing] = useState(false);
  const ai = message.role === 'ai_pm';
  const confidence = ai && message.confidence !== null ? message.confidence : null;
  const provisional = isProvisional(message);
  const mentionables = useContext(MentionContext);
  const mentionsMe = !mine && !message.deleted && mentionables !== null && mentionsUser(message.content, mentionables.self);
  return (
    <article
      className={`msg${ai ? ' msg-ai' : ''}${mine ? ' msg-mine' : ''}${mentionsMe ? ' msg-mentions-me' : ''}`}
      data-id={message.id}
      data-seq={message.seq}
    >
      {/* First in the article (it floats over its corner): the article's text still ends with the message. */}
      {!provisional && !editing && (
        <MessageToolbar
          message={message}
          viewerId={viewerId}
          onEdit={() => setEditing(true)}
          onDelete={actions.remove}
          onReact={actions.react}
        />
      )}
      <Avatar id={message.authorId} name={message.authorName} ai={ai} />
      <div className="msg-main">
        <header className="msg-head">
          <span className="msg-author">{message.authorName}</span>
          {ai && !/\bai pm\b/i.test(message.authorName) && <span className="tag ai">AI PM</span>}
          <When iso={message.createdAt} />
          {message.isEdited && !message.deleted && <span className="msg-edited">edited</span>}
          {confidence !== null && (
            <span className="confidence" title="How sure the AI PM is of this answer">
              {Math.round(confidence * 100)}% confidence
            </span>
          )}
          {confidence !== null && confidence < VERIFY_BELOW && <span className="tag warn">Needs verification</span>}
          {message.status === 'streaming' && <span className="msg-status">Writing…</span>}
          {message.status === 'failed' && <span className="msg-status failed">Failed</span>}
          {message.status === 'delivered' && mine && provisional && (
            <span className="msg-status" title="Kept safe while the chat store recovers; it takes its place when it is back">
              Sending…
            </span>
          )}
          {message.status === 'delivered' && mine && !provisional && (
            <span className="msg-status delivered" title="Stored">
              Sent
            </span>
          )}
        </header>
        {message.deleted ? (
          <p className="msg-body deleted">This message was deleted.</p>
        ) : editing ? (
          <MessageEditor
            message={message}
            onCancel={() => setEditing(false)}
            onSave={(content) => {
              setEditing(false);
              actions.edit(content);
            }}
          />
        ) : (
          <div className="msg-body" aria-busy={message.status === 'streaming'}>
            {ai && message.status === 'streaming' && message.content === '' ? (
              <p className="muted">…</p>
            ) : (
              <Markdown text={message.content} />
            )}
          </div>
        )}
        {!message.deleted && <ReactionChips message={message} viewerId={viewerId} onToggle={actions.react} />}
        {actions.error && (
          <p className="form-error small" role="alert">
            {actions.error}
          </p>
        )}
        {ai && !message.deleted && <AiAnswerControls message={message} />}
      </div>
    </article>
  );
});

export const PendingMessage = memo(function PendingMessage({
  entry,
  authorId,
  authorName,
  onRetry,
}: {
  entry: OutboxEntry;
  authorId: string;
  authorName: string;
  onRetry: (entry: OutboxEntry) => void;
}) {
  const failed = entry.state === 'failed';
  return (
    <article className={`msg msg-mine ${failed ? 'msg-failed' : 'msg-sending'}`} data-id={entry.id}>
      <Avatar id={authorId} name={authorName} />
      <div className="msg-main">
        <header className="msg-head">
          <span className="msg-author">{authorName}</span>
          <When iso={entry.createdAt} />
          {failed ? <span className="msg-status failed">Failed</span> : <span className="msg-status">Sending…</span>}
        </header>
        <div className="msg-body">
          <Markdown text={entry.content} />
        </div>
        {!failed && entry.error && (
          <p className="small muted" role="status">
            {entry.error}
          </p>
        )}
        {failed && (
          <div className="msg-retry">
            {entry.error && <span className="small">{entry.error}</span>}
            <button type="button" className="button small" onClick={() => onRetry(entry)}>
              Retry
            </button>
          </div>
        )}
      </div>
    </article>
  );
});
