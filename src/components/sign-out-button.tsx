'use client';
import { useMutation } from '@tanstack/react-query';
import { useTRPC } from '~/client/trpc';
import { useHydrated } from '~/client/use-hydrated';

export function SignOutButton() {
  const trpc = useTRPC();
  const hydrated = useHydrated();
  // A full page load: nothing of this user's stays in the tab's memory.
  const signOut = useMutation(trpc.auth.signOut.mutationOptions({ onSettled: () => window.location.assign('/') }));
  return (
    <button type="button" className="button subtle small" onClick={() => signOut.mutate()} disabled={!hydrated || signOut.isPending}>
      Sign out
    </button>
  );
}
