import type { NextConfig } from 'next';
// Importing the env module here makes a bad environment fail at start, not at first request.
import './src/server/env';

const nextConfig: NextConfig = {
  // ioredis opens sockets and keeps module state; bundling it breaks both.
  serverExternalPackages: ['ioredis', '@node-rs/argon2'],
  // The Lua scripts are read from disk at start (src/server/redis/scripts.ts), not imported: list them
  // so output tracing copies them with every server route.
  outputFileTracingIncludes: { '/**': ['./src/server/redis/lua/**/*.lua'] },
  poweredByHeader: false,
  reactStrictMode: true,
};

export default nextConfig;
