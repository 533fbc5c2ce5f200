// `npm run db:migrate`: applies the durable tier's pending PostgreSQL migrations (migrations/*.sql).
// The server also applies them when it starts with DATABASE_URL set; this is for doing it ahead of a
// deploy, or for rolling back: `npm run db:migrate -- down [count]`.
//
// Env: DATABASE_URL (required), e.g. postgres://postgres@127.0.0.1:5432/parley
import { migrate } from './lib/migrate.mjs';

const [direction = 'up', countArg] = process.argv.slice(2);
if (direction !== 'up' && direction !== 'down') {
  console.error('Usage: npm run db:migrate [-- up | down [count]]');
  process.exit(2);
}
const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl) {
  console.error('DATABASE_URL is not set (e.g. postgres://postgres@127.0.0.1:5432/parley).');
  process.exit(2);
}

try {
  const ran = await migrate({
    databaseUrl,
    direction,
    count: countArg === undefined ? undefined : Number(countArg),
    log: (message) => console.log(message),
  });
  console.log(ran.length > 0 ? `Applied (${direction}): ${ran.join(', ')}` : 'Nothing to migrate: the schema is up to date.');
} catch (error) {
  console.error(`Migration failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
