// Registers ts-hooks.mjs; pass it to node with --import.
import { register } from 'node:module';

register('./ts-hooks.mjs', import.meta.url);
