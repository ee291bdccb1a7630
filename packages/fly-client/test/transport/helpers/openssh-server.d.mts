/** A private OpenSSH sshd started by {@link startOpenSshServer}. */
export interface OpenSshServer {
  host: string;
  port: number;
  /** Folder of its keys and configuration; removed by stop(). */
  dir: string;
  /** Value of FLY_MACHINE_ID in its sessions. */
  machineId: string;
  /** The current OS user, which the tests log in as. */
  username: string;
  hostKeyPath: string;
  /** Host public key blob, as ssh2 passes it to hostVerifier. */
  hostPublicKey: Buffer;
  /** Key pair listed in authorized_keys. */
  userKey: { privateKey: string; publicKey: string };
  userKeyPath: string;
  caPublicKey: string;
  otherCaPublicKey: string;
  issueCertificate(
    publicKeyLine: string,
    options?: { trusted?: boolean; principals?: string[]; validity?: string },
  ): Promise<string>;
  log(): string;
  stop(): Promise<void>;
}

export function freePort(): Promise<number>;
export function createKeyPair(path: string): Promise<{ privateKey: string; publicKey: string }>;
export function startOpenSshServer(options?: {
  machineId?: string;
  hostKeyPath?: string;
  keepDir?: boolean;
  internalSftp?: boolean;
}): Promise<OpenSshServer>;
