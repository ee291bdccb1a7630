export const packageName = '@flydr/fly-client';
