// Imported for its effect: lets a Node script `await import('../src/….ts')`, so scripts use the
// Worker's own queries and rules instead of copies. src/ uses extensionless relative imports
// (bundler style); Node strips the types itself, and this hook tells it to try ".ts" for them.
// Only plain modules may be imported this way, none that needs workerd.
import { registerHooks } from 'node:module'

registerHooks({
  resolve: (specifier, context, nextResolve) =>
    nextResolve(
      /^\.\.?\//.test(specifier) && context.parentURL?.endsWith('.ts') && !/\.\w+$/.test(specifier)
        ? `${specifier}.ts`
        : specifier,
      context,
    ),
})
