// qdo init / qdo alloc list (spec/layout.md §Allocations).
import type { Context } from '../context.js';
import { createAllocation } from '../store/layout.js';
import { updateList } from '../store/lists.js';
import { allAllocations, allocationsList, checkFolder, homeAllocation, type Allocation } from './world.js';

export interface InitResult {
  root: string;
  created: boolean;
  registered: boolean;
  home: boolean;
}

export async function initAllocation(ctx: Context, dir: string | undefined): Promise<InitResult> {
  const home = await homeAllocation(ctx);
  const root = dir === undefined ? ctx.cwd : await checkFolder(ctx, dir, 'allocation folder');
  if (root === home.root) return { root, created: false, registered: false, home: true };
  const { created } = await createAllocation(root);
  const registered = await updateList(allocationsList(home), (items) =>
    items.includes(root) ? { items: null, result: false } : { items: [...items, root], result: true },
  );
  return { root, created, registered, home: false };
}

export async function listAllocations(ctx: Context): Promise<Allocation[]> {
  return allAllocations(ctx);
}
