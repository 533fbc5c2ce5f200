/** A round initial with a hue derived from the user id (stable across sessions and tabs). */
export function Avatar({ id, name, ai = false }: { id: string; name: string; ai?: boolean }) {
  let hash = 0;
  for (let i = 0; i < id.length; i++) hash = (hash * 31 + id.charCodeAt(i)) | 0;
  const hue = Math.abs(hash) % 360;
  return (
    <span className={`avatar${ai ? ' ai' : ''}`} style={ai ? undefined : { ['--hue' as string]: hue }} aria-hidden="true">
      {ai ? 'AI' : (name.trim()[0] ?? '?').toUpperCase()}
    </span>
  );
}
