// Child process for crash tests: writes objects and moves refs in a loop until killed.
// argv: <allocation root> <project>
import { randomBytes } from 'node:crypto';
import { openAllocation } from '../../src/store/layout.js';
import { writeObject } from '../../src/store/objects.js';
import { updateRef } from '../../src/store/refs.js';

const [root, project] = process.argv.slice(2) as [string, string];
const l = await openAllocation(root);
process.stdout.write('ready\n');
for (let i = 0; ; i++) {
  // Large objects widen the window in which a kill lands mid-write.
  const id = await writeObject(l, randomBytes(256 * 1024 + (i % 7)));
  await updateRef(l, { project, name: `job${i % 50}`, next: id });
  process.stdout.write(`updated ${i}\n`);
}
