<?php
// api.php - the Funnel PHP API against a real funneld (socket in $FUNNEL_SOCKET).
// Usage: php -d extension=funnel.so api.php TOPIC PARTITIONS EXPECT_FILE BROKER_KIND
// Produces records named c=<client> s=<seq> and writes the expectation TSV that
// tests/harness/verify.py checks after read-back; asserts what PHP sees itself.
declare(strict_types=1);

[$_, $topic, $parts, $expectFile, $kind] = $argv;
$parts = (int)$parts;
$failures = 0;
function check(bool $ok, string $what): void
{
    global $failures;
    if (!$ok) {
        fwrite(STDERR, "FAIL: $what\n");
        $failures++;
    }
}
function throws(callable $f, int $code, string $needle, string $what): void
{
    try {
        $f();
        check(false, "$what: no exception");
    } catch (Funnel\Exception $e) {
        check($e->getCode() === $code, "$what: code {$e->getCode()} != $code ({$e->getMessage()})");
        check(str_contains($e->getMessage(), $needle), "$what: message '{$e->getMessage()}' lacks '$needle'");
    }
}
$ex = fopen($expectFile, 'w');
function expect(string $client, int $seq, string $topic, $part, ?string $key, string $hdrs, string $ts): void
{
    global $ex;
    fwrite($ex, implode("\t", [$client, $seq, $topic, $part, $key ?? '\N', $hdrs, $ts]) . "\n");
}

// ---- configuration errors
throws(fn() => new Funnel\Producer(['bootstrap.servers' => 'x']), 22, "'bootstrap.servers'", 'unknown key');
throws(fn() => new Funnel\Producer(['max.block.ms' => 'soon']), 22, 'max.block.ms', 'bad number');
throws(fn() => new Funnel\Producer([5 => 'x']), 22, 'keys must be strings', 'int key');
$absent = new Funnel\Producer(['funnel.socket.path' => getenv('FNL_TMP') . '/absent.sock', 'max.block.ms' => 100]);
throws(fn() => $absent->produce($topic, 'x'), 2, 'absent.sock', 'no daemon');

// ---- keyed records with headers and timestamps; reports with key, payload, opaque
$p = new Funnel\Producer(['max.block.ms' => 10000]);
$n = 3000;
$reports = 0;
$bad = [];
$tstart = (int)(microtime(true) * 1000) - 1;
$p->setDrMsgCb(function ($producer, $msg) use (&$reports, &$bad, $p, $topic, &$tstart) {
    $reports++;
    if ($producer !== $p) $bad[] = 'producer';
    if (!$msg instanceof Funnel\Message) $bad[] = 'class';
    if ($msg->err !== 0 || $msg->errstr() !== 'NONE') $bad[] = "err {$msg->err} {$msg->errstr()}";
    if ($msg->topic_name !== $topic) $bad[] = "topic {$msg->topic_name}";
    if ($msg->offset < 0 || $msg->partition < 0) $bad[] = 'offset';
    [$seq, $key] = $msg->opaque;
    if ($msg->key !== $key || $msg->payload !== "c=keyed s=$seq" || $msg->len !== strlen($msg->payload))
        $bad[] = "key/payload of $seq";
    // the record's CreateTime (given, or the wall clock at produce()) and headers
    $now = (int)(microtime(true) * 1000) + 1;
    if ($seq % 3 ? $msg->timestamp !== 1700000000000 + $seq
                 : !is_int($msg->timestamp) || $msg->timestamp < $tstart || $msg->timestamp > $now)
        $bad[] = "timestamp of $seq: " . var_export($msg->timestamp, true);
    if ($msg->headers !== ($seq % 2 ? ['trace' => "t$seq", 'empty' => null] : null))
        $bad[] = "headers of $seq: " . json_encode($msg->headers);
});
$ts0 = 1700000000000;
for ($i = 0; $i < $n; $i++) {
    $key = 'k' . ($i % 13);
    $hdr = $i % 2 ? ['trace' => "t$i", 'empty' => null] : [];
    $ts = $i % 3 ? $ts0 + $i : 0;
    $p->produce($topic, "c=keyed s=$i", $key, Funnel\PARTITION_UA, $hdr, $ts, [$i, $key]);
    expect('keyed', $i, $topic, '*', $key, $i % 2 ? "trace=t$i,empty" : '', $ts ? (string)$ts : '*');
    if ($i % 500 === 0) $p->poll(0);
}
check($p->getOutQLen() > 0 || $reports === $n, 'getOutQLen after produce');
$p->flush(20000);
check($reports === $n, "reports: $reports of $n");
check($p->getOutQLen() === 0, 'getOutQLen after flush');
check(!$bad, 'report contents: ' . implode(', ', array_slice(array_unique($bad), 0, 5)));

// ---- pinned partition, null key; poll() returns the reports it served
$q = new Funnel\Producer();
for ($i = 0; $i < 200; $i++) {
    $q->produce($topic, "c=pinned s=$i", null, $parts - 1);
    expect('pinned', $i, $topic, $parts - 1, null, '', '*');
}
$served = 0;
for ($t = 0; $t < 200 && $served < 200; $t++) $served += $q->poll(100);
check($served === 200, "poll served $served of 200");

// ---- opaque stays referenced until its report, and is released after it
$seen = null;
$q->setDrMsgCb(function ($prod, $msg) use (&$seen) { $seen = $msg->opaque; });
$obj = new stdClass;
$obj->tag = 'opaque-object';
$weak = WeakReference::create($obj);
$q->produce($topic, 'c=opaque s=0', 'ko', -1, [], 0, $obj);
expect('opaque', 0, $topic, '*', 'ko', '', '*');
unset($obj);
check($weak->get() !== null, 'opaque object kept while its report is pending');
$q->flush(10000);
check($seen instanceof stdClass && $seen->tag === 'opaque-object', 'opaque given back in the report');
$seen = null;
gc_collect_cycles();
check($weak->get() === null, 'opaque released after its report');

// ---- an exception in the callback stops poll(); the rest come with the next poll
$calls = 0;
$q->setDrMsgCb(function ($prod, $msg) use (&$calls) {
    if (++$calls === 1) throw new RuntimeException('from callback');
});
for ($i = 0; $i < 10; $i++) {
    $q->produce($topic, "c=cbthrow s=$i", 'kt');
    expect('cbthrow', $i, $topic, '*', 'kt', '', '*');
}
$thrown = false;
usleep(300000);
try {
    for ($t = 0; $t < 100 && $calls === 0; $t++) $q->poll(100);
} catch (RuntimeException $e) {
    $thrown = $e->getMessage() === 'from callback';
}
check($thrown, 'exception thrown by the callback reaches poll()');
$q->flush(10000);
check($calls === 10, "callback calls after exception: $calls of 10");

// ---- bad arguments
throws(fn() => $q->produce($topic, 'x', null, -2), 22, 'partition', 'partition -2');
throws(fn() => $q->produce("bad\0topic", 'x'), 22, 'bad', 'NUL in topic');
throws(fn() => $q->produce($topic, 'x', null, -1, ["a\0b" => 'v']), 22, 'header name', 'NUL in header');
throws(fn() => $q->produce('', 'x'), 22, "topic ''", 'empty topic');
if ($kind === 'kfake') { // the mock cluster creates unknown topics on Metadata
    throws(fn() => $q->produce('no-such-topic', 'x'), 2, 'no-such-topic', 'unknown topic');
}
// a second configuration is a second client of this process: its 64 KiB ring
// takes records up to 32 KiB
$small = new Funnel\Producer(['funnel.ring.bytes' => 65536, 'max.block.ms' => 0]);
throws(fn() => $small->produce($topic, str_repeat('x', 40000)), 90, 'produce', 'record over half the ring');
$small->produce($topic, 'c=small s=0', 'ks');
expect('small', 0, $topic, '*', 'ks', '', '*');
$small->flush(10000);
check($small->getOutQLen() === 0 && $q->getOutQLen() === 0, 'two clients flushed');
// a partition the topic does not have: reported, not thrown
$q->setDrMsgCb(function ($prod, $msg) use (&$seen) { $seen = $msg; });
$seen = null;
$q->produce($topic, 'c=nopart s=0', null, 999);
$q->flush(10000);
check($seen !== null && $seen->err !== 0 && $seen->partition === 999 && $seen->offset === -1,
      'partition 999: error report ' . ($seen ? "{$seen->err} {$seen->errstr()}" : 'none'));
// null value: a null payload in the report
$q->produce($topic, null, 'knull', -1, [], 0, 'nv');
$q->flush(10000);
check($seen->payload === null && $seen->key === 'knull' && $seen->opaque === 'nv' && $seen->err === 0, 'null value');

// ---- a forked child opens its own client; the parent's keeps working
if (function_exists('pcntl_fork')) {
    $p->setDrMsgCb(function ($prod, $msg) {});
    $p->produce($topic, 'c=forkp s=0', 'kf');
    expect('forkp', 0, $topic, '*', 'kf', '', '*');
    $pid = pcntl_fork();
    if ($pid === 0) {
        $ok = 0;
        $p->setDrMsgCb(function ($prod, $msg) use (&$ok) { if ($msg->err === 0) $ok++; });
        for ($i = 0; $i < 100; $i++) $p->produce($topic, "c=forkc s=$i", 'kc');
        $p->flush(10000);
        exit($ok === 100 ? 0 : 3);
    }
    for ($i = 1; $i < 100; $i++) {
        $p->produce($topic, "c=forkp s=$i", 'kf');
        expect('forkp', $i, $topic, '*', 'kf', '', '*');
    }
    pcntl_waitpid($pid, $st);
    check(pcntl_wexitstatus($st) === 0, 'forked child got its 100 reports');
    for ($i = 0; $i < 100; $i++) expect('forkc', $i, $topic, '*', 'kc', '', '*');
    for ($i = 100; $i < 200; $i++) {
        $p->produce($topic, "c=forkp s=$i", 'kf');
        expect('forkp', $i, $topic, '*', 'kf', '', '*');
    }
    $p->flush(10000);
    check($p->getOutQLen() === 0, 'parent flushed after the child exited');
} else {
    check(false, 'pcntl_fork missing (php8.2-cli has it)');
}

// ---- records left unflushed at exit are still delivered (checked by read-back)
for ($i = 0; $i < 300; $i++) {
    $p->produce($topic, "c=noflush s=$i", 'kn');
    expect('noflush', $i, $topic, '*', 'kn', '', '*');
}
fclose($ex);
if ($failures) exit(1);
echo "api.php: ok ($kind)\n";
