import 'server-only';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import type { LanguageModel } from 'ai';
import type { AiSettings } from './settings';

const cache = new Map<string, LanguageModel>();

/**
 * The configured chat model: one OpenAI-compatible provider serves OpenAI, Ollama, llama.cpp's
 * server, vLLM and LM Studio. `includeUsage` asks the server for token counts in the stream.
 */
export function aiModel(s: AiSettings): LanguageModel {
  if (!s.baseURL) throw new Error('The AI PM is off: AI_BASE_URL is not set');
  const id = `${s.baseURL}\u0000${s.model}\u0000${s.apiKey ?? ''}`;
  let model = cache.get(id);
  if (!model) {
    const provider = createOpenAICompatible({
      name: 'parley-ai',
      baseURL: s.baseURL,
      ...(s.apiKey ? { apiKey: s.apiKey } : {}),
      includeUsage: true,
    });
    model = provider.chatModel(s.model);
    cache.set(id, model);
  }
  return model;
}
