import { useSyncExternalStore } from 'react';

const subscribeNothing = () => () => undefined;

/**
 * False during the server render and hydration, true afterwards. Forms stay inert until then (a
 * click before hydration would submit the bare HTML form), and time-zone dependent text waits for
 * the browser.
 */
export function useHydrated(): boolean {
  return useSyncExternalStore(
    subscribeNothing,
    () => true,
    () => false,
  );
}
