/** The journal runner (src/apply/run.ts), loaded when a change is made: planning and previews do not pay for it. */
export const loadRun = async (): Promise<typeof import('./run.js').Run> => (await import('./run.js')).Run;
