export const packageName = '@flydr/dr-core';
