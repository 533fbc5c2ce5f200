// Stands in for the `server-only` package under Vitest. That package throws when imported outside a
// React Server Components bundle, which would stop tests from importing server modules; Next.js
// itself still enforces it in the app build.
export {};
