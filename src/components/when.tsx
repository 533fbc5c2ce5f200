'use client';
import { useHydrated } from '~/client/use-hydrated';
import { formatFull, formatWhen } from './format';

/** A <time> in the reader's own time zone (blank until hydrated, so server and browser agree). */
export function When({ iso, prefix }: { iso: string; prefix?: string }) {
  const hydrated = useHydrated();
  return (
    <time dateTime={iso} title={hydrated ? formatFull(iso) : undefined}>
      {hydrated ? `${prefix ?? ''}${formatWhen(iso)}` : ''}
    </time>
  );
}
