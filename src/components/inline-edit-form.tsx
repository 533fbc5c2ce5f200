'use client';
import type { FormEvent, ReactNode } from 'react';

/**
 * One text field edited in place (Save, Cancel, Escape cancels): a session's title and description.
 * `onSave` gets the trimmed value; `children` (an error line) render inside the form.
 */
export function InlineEditForm({
  name,
  label,
  defaultValue,
  maxLength,
  pending,
  onSave,
  onCancel,
  children,
}: {
  name: string;
  label: string;
  defaultValue: string | undefined;
  maxLength: number;
  pending: boolean;
  onSave: (value: string) => void;
  onCancel: () => void;
  children?: ReactNode;
}) {
  function onSubmit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const value = new FormData(e.currentTarget).get(name);
    onSave(typeof value === 'string' ? value.trim() : '');
  }

  return (
    <form className="rename-form" onSubmit={onSubmit}>
      <input
        name={name}
        aria-label={label}
        defaultValue={defaultValue}
        maxLength={maxLength}
        autoFocus
        onKeyDown={(e) => e.key === 'Escape' && onCancel()}
      />
      <button type="submit" className="button primary small" disabled={pending}>
        Save
      </button>
      <button type="button" className="button subtle small" onClick={onCancel}>
        Cancel
      </button>
      {children}
    </form>
  );
}
