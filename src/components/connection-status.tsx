'use client';
import { useConnectionStatus } from '~/client/project-live';

/** "Live" while this browser's event stream for the project is open (in whichever tab holds it). */
export function ConnectionStatus({ projectId }: { projectId: string }) {
  const status = useConnectionStatus(projectId);
  return (
    <span role="status" aria-label="Connection" className={`connection ${status}`}>
      {status === 'live' ? 'Live' : 'Reconnecting'}
    </span>
  );
}
