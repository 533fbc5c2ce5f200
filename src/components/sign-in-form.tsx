'use client';
import { useMutation } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { errorMessage } from '~/client/errors';
import { useTRPC } from '~/client/trpc';
import { useHydrated } from '~/client/use-hydrated';
import { LIMITS } from '~/shared/limits';
import { safeNextPath } from '~/shared/safe-path';
import { credentialsInput } from '~/shared/schemas';

/** Signed-out home: one form that signs in or creates an account. */
export function SignInForm({ next }: { next: string | null }) {
  const trpc = useTRPC();
  const [error, setError] = useState<string | null>(null);
  const hydrated = useHydrated();
  // A full page load afterwards: the new user starts with an empty cache and fresh server render.
  // `next` was checked by the server already; the same check again here keeps this navigation safe
  // whoever renders the form.
  const done = () => window.location.assign(safeNextPath(next) ?? '/');
  const signIn = useMutation(trpc.auth.signIn.mutationOptions({ onSuccess: done }));
  const signUp = useMutation(trpc.auth.signUp.mutationOptions({ onSuccess: done }));
  const busy = !hydrated || signIn.isPending || signUp.isPending || signIn.isSuccess || signUp.isSuccess;

  function onSubmit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const submitter = (e.nativeEvent as SubmitEvent).submitter as HTMLButtonElement | null;
    const form = new FormData(e.currentTarget);
    const parsed = credentialsInput.safeParse({ username: form.get('username'), password: form.get('password') });
    if (!parsed.success) {
      setError(parsed.error.issues[0]?.message ?? 'Check your username and password');
      return;
    }
    setError(null);
    const mutation = submitter?.value === 'sign-up' ? signUp : signIn;
    mutation.mutate(parsed.data, { onError: (err) => setError(errorMessage(err)) });
  }

  return (
    <main className="center-page">
      <div className="card narrow sign-in">
        <div className="brand">
          <span className="brand-mark" aria-hidden="true">
            P
          </span>
          <h1>Parley</h1>
        </div>
        <p className="muted">Project chat with your team and an AI project manager, live in every tab.</p>
        <form onSubmit={onSubmit} className="stack" noValidate>
          <label className="field">
            <span>Username</span>
            <input name="username" readOnly={!hydrated} autoComplete="username" autoCapitalize="none" spellCheck={false} required />
          </label>
          <label className="field">
            <span>Password</span>
            <input
              name="password"
              readOnly={!hydrated}
              type="password"
              autoComplete="current-password"
              aria-describedby="password-rule"
              required
            />
          </label>
          {/* No maxLength on the input: the browser would cut a long paste silently; zod says why instead. */}
          <p id="password-rule" className="muted small">
            {LIMITS.passwordMin} to {LIMITS.passwordMax} characters.
          </p>
          {error && (
            <p className="form-error" role="alert">
              {error}
            </p>
          )}
          <div className="row">
            <button type="submit" name="intent" value="sign-in" className="button primary" disabled={busy}>
              Sign in
            </button>
            <button type="submit" name="intent" value="sign-up" className="button" disabled={busy}>
              Create account
            </button>
          </div>
        </form>
      </div>
    </main>
  );
}
