export type TransportKind = 'ssh' | 'exec';
