/**
 * After each doctor run, the tools it found in the interpreter go to the language server: each tool's files are then
 * checked against the installed release (server/src/core/dialects/toolVersion.ts), unless a modeline or the
 * `loraLens.toolVersions` setting names one.
 */
import type { DoctorReport } from '../../../server/src/runs/doctor';
import {
  InstalledToolVersionsNotificationMethod,
  type InstalledToolVersionsParams,
} from '../../../server/src/protocol/requests';
import type { RunsContext } from './ctx';

/** The installed tools' versions of a doctor report, by dialect id. */
export function installedToolVersions(report: DoctorReport): InstalledToolVersionsParams['versions'] {
  const versions: InstalledToolVersionsParams['versions'] = {};
  for (const [id, info] of Object.entries(report.tools) as Array<
    [keyof DoctorReport['tools'], DoctorReport['tools'][keyof DoctorReport['tools']]]
  >)
    if (info.installed && info.version) versions[id] = info.version;
  return versions;
}

/** Tells the server which tool versions the selected interpreter has (nothing when the server is not running). */
export function reportToolVersions(ctx: RunsContext, report: DoctorReport): void {
  const params: InstalledToolVersionsParams = { versions: installedToolVersions(report) };
  void ctx.hooks
    .client?.()
    ?.sendNotification?.(InstalledToolVersionsNotificationMethod, params)
    ?.catch(() => undefined);
}
