/** Hues an avatar can take; each has a `.avatar[data-hue]` rule in globals.css. */
const HUE_STEPS = 24;

/**
 * A round initial with a hue derived from the user id (stable across sessions and tabs). The hue is a
 * data attribute matched by a stylesheet rule, not an inline `style`: the Content-Security-Policy
 * (src/proxy.ts) allows no inline style attributes.
 */
export function Avatar({ id, name, ai = false }: { id: string; name: string; ai?: boolean }) {
  let hash = 0;
  for (let i = 0; i < id.length; i++) hash = (hash * 31 + id.charCodeAt(i)) | 0;
  const hue = Math.abs(hash) % HUE_STEPS;
  return (
    <span className={`avatar${ai ? ' ai' : ''}`} data-hue={ai ? undefined : hue} aria-hidden="true">
      {ai ? 'AI' : (name.trim()[0] ?? '?').toUpperCase()}
    </span>
  );
}
