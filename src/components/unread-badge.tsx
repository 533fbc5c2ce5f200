/** A count of unread messages; nothing when there are none. Its accessible name says what it counts. */
export function UnreadBadge({ count }: { count: number }) {
  if (count <= 0) return null;
  const label = `${count} unread`;
  return (
    <span className="unread-badge" aria-label={label} title={label}>
      {count > 99 ? '99+' : count}
    </span>
  );
}
