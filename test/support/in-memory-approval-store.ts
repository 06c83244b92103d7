import type {
  ApprovalDecision,
  ApprovalRecord,
  ApprovalRedemption,
  ApprovalRequest,
  ApprovalStore,
  OperatorCredential,
} from '../../src/safety/approval-store.js';

/**
 * The ApprovalStore contract held in one process's memory, for tests until the embedded and
 * PostgreSQL stores are merged. Every state change is one synchronous step (no await between the
 * check and the write), which is what makes them atomic here, as a transaction does in a database.
 */
export class InMemoryApprovalStore implements ApprovalStore {
  private readonly approvals = new Map<string, ApprovalRecord>();
  private readonly credentials = new Map<string, OperatorCredential>();
  private readonly challenges = new Map<string, { challenge: string; expiresAt: number }>();

  createApproval(request: ApprovalRequest): Promise<void> {
    if (this.approvals.has(request.id)) return Promise.reject(new Error(`approval ${request.id} exists`));
    this.approvals.set(request.id, { ...request, state: 'pending' });
    return Promise.resolve();
  }

  getApproval(id: string): Promise<ApprovalRecord | undefined> {
    const record = this.approvals.get(id);
    return Promise.resolve(record ? { ...record } : undefined);
  }

  decideApproval(id: string, decision: ApprovalDecision, now: Date): Promise<boolean> {
    const record = this.approvals.get(id);
    if (!record || record.state !== 'pending' || Date.parse(record.expiresAt) <= now.getTime())
      return Promise.resolve(false);
    this.approvals.set(id, {
      ...record,
      state: decision.approved ? 'approved' : 'declined',
      decidedAt: now.toISOString(),
      decidedBy: decision.by,
      credentialId: decision.credentialId,
    });
    return Promise.resolve(true);
  }

  redeemApproval(id: string, bindingDigest: string, now: Date): Promise<ApprovalRedemption> {
    const record = this.approvals.get(id);
    const refuse = (reason: Exclude<ApprovalRedemption, { ok: true }>['reason']) =>
      Promise.resolve<ApprovalRedemption>({ ok: false, reason });
    if (!record) return refuse('unknown');
    if (record.state === 'redeemed') return refuse('reused');
    if (record.state === 'declined') return refuse('declined');
    if (Date.parse(record.expiresAt) <= now.getTime()) return refuse('expired');
    if (record.bindingDigest !== bindingDigest) return refuse('mismatch');
    if (record.state === 'pending') return refuse('pending');
    const redeemed: ApprovalRecord = { ...record, state: 'redeemed' };
    this.approvals.set(id, redeemed);
    return Promise.resolve({ ok: true, record: { ...redeemed } });
  }

  addOperatorCredential(credential: OperatorCredential): Promise<void> {
    this.credentials.set(credential.id, { ...credential });
    return Promise.resolve();
  }

  listOperatorCredentials(): Promise<readonly OperatorCredential[]> {
    return Promise.resolve([...this.credentials.values()].map((c) => ({ ...c })));
  }

  raiseOperatorCredentialCounter(id: string, counter: number): Promise<boolean> {
    const credential = this.credentials.get(id);
    if (!credential || counter <= credential.counter) return Promise.resolve(false);
    this.credentials.set(id, { ...credential, counter });
    return Promise.resolve(true);
  }

  putChallenge(id: string, challenge: string, expiresAt: Date): Promise<void> {
    this.challenges.set(id, { challenge, expiresAt: expiresAt.getTime() });
    return Promise.resolve();
  }

  takeChallenge(id: string, now: Date): Promise<string | undefined> {
    const entry = this.challenges.get(id);
    this.challenges.delete(id);
    return Promise.resolve(entry && entry.expiresAt > now.getTime() ? entry.challenge : undefined);
  }

  /** Test hook: how many approvals are in each state. */
  states(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const record of this.approvals.values()) counts[record.state] = (counts[record.state] ?? 0) + 1;
    return counts;
  }
}
