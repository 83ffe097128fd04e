// Child process for the record race test: appends its own marks to one submission record's
// `reason`, N times, each a read-modify-write through changeSubmission.
// argv: <allocation root> <record id> <worker name> <count>
import { openAllocation } from '../../src/store/layout.js';
import { changeSubmission } from '../../src/store/submissions.js';

const [root, id, who, count] = process.argv.slice(2) as [string, string, string, string];
const l = await openAllocation(root);
for (let i = 0; i < Number(count); i++) {
  await changeSubmission(l, id, (cur) => (cur ? { ...cur, reason: `${cur.reason ?? ''}${who}${i},` } : null));
}
