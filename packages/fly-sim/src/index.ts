export const packageName = '@flydr/fly-sim';
