// The code-server e2e suite, run once more when it fails: code-server sometimes drops a click on a menu item that is
// still fading in (seen in 5 of 10 runs of 2026-12-06 before the tests retried such clicks themselves). A second
// failure fails the run; a pass on the second attempt is printed, so a flaky test stays visible in the log.
import { spawnSync } from 'node:child_process';

const run = () =>
  spawnSync(process.execPath, ['--import', 'tsx', '--test', 'test/e2e/vscode.e2e.ts'], { stdio: 'inherit' }).status;

let status = run();
if (status !== 0) {
  console.log('e2e: the suite failed on its first attempt; running it once more (see the failures above)');
  status = run();
  if (status === 0) console.log('e2e: passed on the second attempt: the failures above are flaky; look at them');
}
process.exit(status ?? 1);
