<?php
// Transactions from php-cli (php-rdkafka's names), run by php_txn.sh against funneld
// with transactional.id on kfake-broker. argv: TOPIC REPORTS_FILE (the committed records'
// delivery reports as "value partition offset" lines, for php_txn.sh to compare with kcat)
use Funnel\{Producer, TopicPartition, ConsumerGroupMetadata, KafkaErrorException};
$topic = $argv[1];
$reports_file = $argv[2];
function check(bool $ok, string $what): void {
    if (!$ok) { fwrite(STDERR, "FAIL: $what\n"); exit(1); }
}
function expect_kerr(callable $f, string $what, bool $fatal, bool $retriable, bool $abort, int $code): KafkaErrorException {
    try { $f(); } catch (KafkaErrorException $e) {
        check($e instanceof Funnel\Exception, "$what: KafkaErrorException extends Funnel\\Exception");
        check($e->isFatal() === $fatal && $e->isRetriable() === $retriable &&
              $e->transactionRequiresAbort() === $abort && $e->getCode() === $code,
              "$what: flags/code " . var_export([$e->isFatal(), $e->isRetriable(), $e->transactionRequiresAbort(), $e->getCode()], true));
        check($e->getErrorString() !== '' && str_contains($e->getMessage(), $e->getErrorString()), "$what: message");
        echo "$what: {$e->getMessage()}\n";
        return $e;
    }
    check(false, "$what: no KafkaErrorException");
}
// a topic-partition of another library (as RdKafka\TopicPartition): read through its getters
class OtherTP {
    function __construct(private string $t, private int $p, private int $o) {}
    function getTopic(): string { return $this->t; }
    function getPartition(): int { return $this->p; }
    function getOffset(): int { return $this->o; }
}
$p = new Producer(['max.block.ms' => 10000]);
$reports = [];
$p->setDrMsgCb(function ($prod, $m) use (&$reports) {
    $reports[] = [$m->payload, $m->partition, $m->offset, $m->err, $m->opaque, $m->topic_name];
});
$p->initTransactions(10000);
$p->initTransactions(10000); // again: no-op
function txn(Producer $p, string $topic, int $k, string $end, ?array $offs = null, $md = 'phpg'): void {
    global $reports;
    $p->beginTransaction();
    for ($i = 0; $i < 4; $i++)
        $p->produce($topic, "php:$k-$i", "php", -1, [], 0, "opaque$k");
    if ($offs !== null)
        $p->sendOffsetsToTransaction($offs, $md, 10000);
    $n = count($reports);
    try {
        $p->$end(10000);
    } finally {
        // committed or aborted: dr_msg_cb ran for each record before the call returned
        $got = count($reports) - $n;
        check($got === ($end === 'commitTransaction' && $k === 2 ? 0 : 4), "transaction $k: $got reports");
    }
}
txn($p, $topic, 0, 'commitTransaction',
    [new TopicPartition($topic, 0, 5), ['topic' => $topic, 'partition' => 1, 'offset' => 6]],
    new ConsumerGroupMetadata('phpg'));
txn($p, $topic, 1, 'abortTransaction', [new TopicPartition($topic, 0, 99)]);
// a member the group does not have: the window's TxnOffsetCommit fails -> abortable
expect_kerr(fn() => txn($p, $topic, 2, 'commitTransaction', [new TopicPartition($topic, 0, 7)],
                        ['group_id' => 'phpg', 'generation_id' => 7, 'member_id' => 'nobody',
                         'group_instance_id' => null]),
            'commit with an unknown member', false, false, true, -196);
$n = count($reports);
$p->abortTransaction(10000);
check(count($reports) === $n + 4, 'the refused commit\'s records were reported at its abort');
txn($p, $topic, 3, 'commitTransaction', [new TopicPartition($topic, 0, 8), new OtherTP($topic, 2, 9)],
    new ConsumerGroupMetadata('phpg', -1, '', null));
// misuse: USAGE -> _STATE (-172), none of the flags
expect_kerr(fn() => $p->commitTransaction(1000), 'commit without begin', false, false, false, -172);
expect_kerr(fn() => $p->abortTransaction(1000), 'abort without begin', false, false, false, -172);
expect_kerr(fn() => $p->sendOffsetsToTransaction([], 'phpg', 1000), 'offsets without begin', false, false, false, -172);
$p->beginTransaction();
expect_kerr(fn() => $p->beginTransaction(), 'begin twice', false, false, false, -172);
try {
    $p->sendOffsetsToTransaction([42], 'phpg', 1000);
    check(false, 'a bad offsets entry was accepted');
} catch (Funnel\Exception $e) {
    check(!($e instanceof KafkaErrorException) && str_contains($e->getMessage(), 'offsets[0]'), 'bad entry: ' . $e->getMessage());
}
$p->abortTransaction(1000);
// another client (other configuration) that never called initTransactions
$q = new Producer(['max.block.ms' => 9999]);
expect_kerr(fn() => $q->beginTransaction(), 'begin before init', false, false, false, -172);
$p->flush(10000);
$p->poll(100);
check(count($reports) === 16, count($reports) . " delivery reports, want 16");
$ok = '';
foreach ($reports as [$v, $part, $off, $err, $opaque, $tn]) {
    $k = (int)substr($v, 4, 1);
    check($opaque === "opaque$k" && $tn === $topic, "report of $v: opaque $opaque topic $tn");
    if ($k === 0 || $k === 3) {
        check($err === 0 && $off >= 0, "report of committed $v: err $err offset $off");
        $ok .= "$v $part $off\n";
    } else { // aborted: TRANSACTION_ABORTABLE; refused by the group coordinator: its error
        check($err === ($k === 1 ? 120 : 25) && $off === -1, "report of aborted $v: err $err offset $off");
    }
}
file_put_contents($reports_file, $ok);
$tp = (new TopicPartition('t', 1))->setOffset(3);
check($tp->getTopic() === 't' && $tp->getPartition() === 1 && $tp->getOffset() === 3, 'TopicPartition');
$e = new KafkaErrorException('m', 1, 's', true, false, false);
check($e->isFatal() && !$e->isRetriable() && $e->getErrorString() === 's', 'KafkaErrorException ctor');
// left open at the end: RSHUTDOWN aborts it (under valgrind in php_txn.sh)
$p->beginTransaction();
$p->produce($topic, "php:open", "php");
$p->sendOffsetsToTransaction([new TopicPartition($topic, 1, 77)], 'phpg', 1000);
echo "php transactions ok\n";
