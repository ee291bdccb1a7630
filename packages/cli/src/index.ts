export const packageName = '@flydr/cli';
