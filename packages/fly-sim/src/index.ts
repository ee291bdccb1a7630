export const packageName = '@flydr/fly-sim';
export { createMswDispatcher, type MswHandlerSource } from './msw-dispatcher.js';
