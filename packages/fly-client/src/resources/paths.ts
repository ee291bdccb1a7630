/** Path of an app below the API base, with the name encoded. */
export function appPath(app: string): string {
  return `/v1/apps/${encodeURIComponent(app)}`;
}

/** Path of a machine below the API base. */
export function machinePath(app: string, machineId: string): string {
  return `${appPath(app)}/machines/${encodeURIComponent(machineId)}`;
}

/** Path of a volume below the API base. */
export function volumePath(app: string, volumeId: string): string {
  return `${appPath(app)}/volumes/${encodeURIComponent(volumeId)}`;
}
