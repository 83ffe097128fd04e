// import() of a module outside qdo (a scheduler plugin), by file URL. In the single-file
// bundle qdo's code runs inside a vm.Script, whose own import() needs a callback that Node
// 20 has only behind a flag; the bundle's prologue (scripts/build.mjs) lends its import().
type Importer = (url: string) => Promise<unknown>;

export function importModule(url: string): Promise<unknown> {
  const lent = (globalThis as { __qdoImport?: Importer }).__qdoImport;
  return lent ? lent(url) : import(url);
}
