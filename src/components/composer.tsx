'use client';
import { useState, type FormEvent, type KeyboardEvent } from 'react';
import { useHydrated } from '~/client/use-hydrated';
import { messageContentSchema } from '~/shared/schemas';

/** Enter sends, Shift+Enter adds a line (and Enter while an IME is composing does neither). */
export function Composer({
  onSend,
  onKeystroke,
  onStopTyping,
}: {
  onSend: (content: string) => void;
  /** Typing notifications (see src/client/use-typing.ts). */
  onKeystroke?: () => void;
  onStopTyping?: () => void;
}) {
  const [text, setText] = useState('');
  const [error, setError] = useState<string | null>(null);
  const hydrated = useHydrated();

  function submit() {
    const content = text.trim();
    if (content === '') return;
    const parsed = messageContentSchema.safeParse(content);
    if (!parsed.success) {
      setError(parsed.error.issues[0]?.message ?? 'This message cannot be sent');
      return;
    }
    setError(null);
    onStopTyping?.();
    onSend(parsed.data);
    setText('');
  }

  function onSubmit(e: FormEvent) {
    e.preventDefault();
    submit();
  }

  function onKeyDown(e: KeyboardEvent<HTMLTextAreaElement>) {
    if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      submit();
    }
  }

  return (
    <form className="composer" onSubmit={onSubmit}>
      <div className="composer-row">
        <textarea
          aria-label="Message"
          aria-describedby="composer-hint"
          placeholder="Write a message…"
          rows={1}
          readOnly={!hydrated}
          value={text}
          onChange={(e) => {
            setText(e.target.value);
            if (e.target.value.trim() === '') onStopTyping?.();
            else onKeystroke?.();
          }}
          onBlur={onStopTyping}
          onKeyDown={onKeyDown}
        />
        <button type="submit" className="button primary" disabled={!hydrated}>
          Send
        </button>
      </div>
      {error ? (
        <p className="form-error small" role="alert">
          {error}
        </p>
      ) : (
        <p id="composer-hint" className="composer-hint">
          <kbd>Enter</kbd> to send · <kbd>Shift</kbd>+<kbd>Enter</kbd> for a new line · Markdown works
        </p>
      )}
    </form>
  );
}
