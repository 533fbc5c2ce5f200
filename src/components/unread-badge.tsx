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

/** Unread messages that mention the viewer ("@2"), shown beside the unread count; nothing when none. */
export function MentionBadge({ count }: { count: number }) {
  if (count <= 0) return null;
  const label = `${count} unread ${count === 1 ? 'mention' : 'mentions'}`;
  return (
    <span className="mention-badge" aria-label={label} title={label}>
      @{count > 99 ? '99+' : count}
    </span>
  );
}
