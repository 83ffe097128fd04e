// qdo init / qdo alloc list (spec/layout.md §Allocations).
import type { Context } from '../context.js';
import { UsageError } from '../errors.js';
import { createAllocation, layoutOf } from '../store/layout.js';
import { addShared, checkAllocation, readShared, shareWithGroup } from '../store/trust.js';
import { updateList } from '../store/lists.js';
import { allAllocations, allocationsList, checkFolder, homeAllocation, type Allocation } from './world.js';

export interface InitResult {
  root: string;
  created: boolean;
  registered: boolean;
  home: boolean;
  /** The user shares this allocation with its group (spec/trust.md §Shared allocations). */
  shared: boolean;
}

export interface InitOptions {
  /** Record that the user trusts the group of this allocation with it (opt-in; spec/trust.md). */
  sharedGroup?: boolean;
}

/**
 * qdo init [--shared-group] DIR. The folders on the way to DIR/.qdo are checked before
 * anything is made (spec/trust.md §Allocations): a folder others could change is refused,
 * naming it and its mode; one the group can change only with --shared-group.
 */
export async function initAllocation(ctx: Context, dir: string | undefined, o: InitOptions = {}): Promise<InitResult> {
  const home = await homeAllocation(ctx);
  const root = dir === undefined ? ctx.cwd : await checkFolder(ctx, dir, 'allocation folder');
  if (root === home.root) {
    if (o.sharedGroup) throw new UsageError(`${root} is the home allocation; it cannot be shared`, { code: 'bad-flag', hint: 'share another folder: qdo init --shared-group DIR' });
    return { root, created: false, registered: false, home: true, shared: false };
  }
  const shared = o.sharedGroup === true || (await readShared(home)).includes(root);
  await checkAllocation(layoutOf(root), ctx.user, { shared });
  const { layout, created } = await createAllocation(root);
  if (created && o.sharedGroup) await shareWithGroup(layout);
  // Checked again: what was just made has the modes the umask gave it.
  if (created) await checkAllocation(layout, ctx.user, { shared });
  const registered = await updateList(allocationsList(home), (items) =>
    items.includes(root) ? { items: null, result: false } : { items: [...items, root], result: true },
  );
  if (o.sharedGroup) await addShared(home, root);
  return { root, created, registered, home: false, shared };
}

export async function listAllocations(ctx: Context): Promise<Allocation[]> {
  return allAllocations(ctx);
}
