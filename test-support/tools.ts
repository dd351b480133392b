import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Whether an executable of that name is on PATH (for suites that run a real tool). */
export function onPath(tool: string): boolean {
  return (process.env.PATH ?? '')
    .split(delimiter)
    .filter(Boolean)
    .some((dir) => {
      try {
        accessSync(join(dir, tool), constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
}
