// The soak's bookkeeping (bench/soak/ledger.ts), without a server: what counts as a
// redelivery after an ack (a delivery the server made after the acked one) and what is only
// seen late (made before it, handled here after the ack's answer), lost sends, and topic
// publishes against what the log holds. The soak's verdicts are only as good as these.
import { describe, expect, it } from "vitest";
import { makeId } from "../../bench/soak/id-table.ts";
import { Ledger } from "../../bench/soak/ledger.ts";

const BATCH = 10;
const q = (j: number, batch = 0) => ({ id: makeId("s", 1, batch, j), seq: 100 + batch * BATCH + j });

describe("soak ledger", () => {
  it("soak ledger - an earlier delivery seen after the ack is late, a later attempt or another seq is a redelivery", () => {
    const ledger = new Ledger(BATCH);
    const m = q(3);
    ledger.recordSent(m.id);
    ledger.recordDelivery({ ...m, attempts: 2 }, "lease");
    ledger.recordAck({ ...m, attempts: 2 });

    ledger.recordDelivery({ ...m, attempts: 1 }, "push"); // pushed before the lease that was acked
    ledger.recordDelivery({ ...m, attempts: 2 }, "push"); // the acked delivery itself, seen twice
    expect(ledger.seenLate.count).toBe(2);
    expect(ledger.redelivered).toEqual([]);

    ledger.recordDelivery({ ...m, attempts: 3 }, "lease"); // made after the ack
    ledger.recordDelivery({ ...m, seq: m.seq + 1000, attempts: 1 }, "drain"); // a second copy of the id
    expect(ledger.redelivered).toHaveLength(2);
    expect(ledger.redelivered[0]).toContain("seq 103 delivery 2 acked, seq 103 delivery 3 seen by lease");
    expect(ledger.redelivered[1]).toContain("seq 1103 delivery 1 seen by drain");
  });

  it("soak ledger - a send is lost unless acked, acked without an answer, or seen by the final drain", () => {
    const ledger = new Ledger(BATCH);
    const [acked, unknown, drained, lost] = [q(0), q(1), q(2), q(3, 7)];
    for (const m of [acked, unknown, drained, lost]) ledger.recordSent(m.id);
    ledger.recordAck({ ...acked, attempts: 1 });
    ledger.recordAckUnknown(unknown.id);
    ledger.recordDelivery({ ...drained, attempts: 1 }, "drain");
    ledger.recordDelivery({ ...lost, attempts: 1 }, "lease"); // delivered during the run, never acked, gone at the end
    expect(ledger.lostSends()).toEqual(["s1-7-3"]);
  });

  it("soak ledger - a publish must be in the log where its 201 said, and reach the group and the forwarded queue", () => {
    const ledger = new Ledger(BATCH);
    const [a, b, c, d] = [0, 1, 2, 3].map((j) => makeId("p", 0, 4, j)) as [string, string, string, string];
    ledger.recordPublish(a, 0, 5);
    ledger.recordPublish(b, 1, 6);
    ledger.recordPublish(c, 1, 7);
    expect(ledger.recordLogged(a, 0, 5)).toBeNull();
    expect(ledger.recordLogged(b, 1, 9)).toBe(`${b}: answered 1:6, log has 1:9`);
    expect(ledger.recordLogged(d, 0, 6)).toBeNull(); // in the log though its 201 never came (a kill): fine
    expect(ledger.publishedNotLogged()).toEqual(["p0-4-2: answered 1:7, log has nothing"]);

    for (const id of [a, b]) ledger.recordGroupDelivery(id);
    ledger.recordGroupAck(a);
    ledger.recordGroupDelivery(a);
    expect(ledger.groupRedelivered).toEqual([a]);
    ledger.recordForward(a);
    ledger.recordForward(c); // not in the log
    expect(ledger.topicDeliveryGaps()).toEqual({
      group: ["p0-4-3: never delivered to the group"],
      forwarding: ["p0-4-1: never forwarded", "p0-4-2: forwarded but not in the topic", "p0-4-3: never forwarded"],
    });
    expect(ledger.topicDeliveryCounts()).toEqual({ groupDelivered: 2, forwarded: 2 });
  });
});
