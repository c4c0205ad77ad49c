// `node --import ./record-loads.mjs ...`: appends the URL of every module the
// process loads to the file named by RECORD_LOADS_TO (loader hooks run on their own thread).
import { register } from 'node:module';

const HOOKS = `
import { appendFileSync } from 'node:fs';
export async function load(url, context, next) {
  appendFileSync(process.env.RECORD_LOADS_TO, url + '\\n');
  return next(url, context);
}`;
register(`data:text/javascript,${encodeURIComponent(HOOKS)}`);
