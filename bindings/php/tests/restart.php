<?php
// restart.php - one Producer across a funneld restart: records produced while
// no funneld runs wait in the ring and are delivered by its successor.
// Usage: restart.php TOPIC EXPECT_FILE DIR; the test script stops funneld after
// DIR/phase1 appears and starts a new one after DIR/phase2 appears.
declare(strict_types=1);
[$_, $topic, $expectFile, $dir] = $argv;
$ex = fopen($expectFile, 'w');
$ok = 0;
$p = new Funnel\Producer(['max.block.ms' => 30000]);
$p->setDrMsgCb(function ($prod, $m) use (&$ok) { if ($m->err === 0) $ok++; });
function wait_for(string $f): void
{
    for ($i = 0; $i < 600 && !file_exists($f); $i++) usleep(100000);
    if (!file_exists($f)) { fwrite(STDERR, "FAIL: $f did not appear\n"); exit(1); }
}
$seq = 0;
$batch = function (int $n) use ($p, $topic, $ex, &$seq) {
    for ($i = 0; $i < $n; $i++, $seq++) {
        $p->produce($topic, "c=restart s=$seq", 'kr' . ($seq % 5));
        fwrite($ex, "restart\t$seq\t$topic\t*\tkr" . ($seq % 5) . "\t\t*\n");
    }
};
$batch(200);
$p->flush(20000);
touch("$dir/phase1");
wait_for("$dir/stopped");
$batch(200); // no funneld now: into the ring
if ($p->poll(0) !== 0 || $p->getOutQLen() !== 200) {
    fwrite(STDERR, "FAIL: with no funneld poll() should give 0 and 200 wait\n");
    exit(1);
}
try {
    $p->flush(300);
    fwrite(STDERR, "FAIL: flush(300) with no funneld returned\n");
    exit(1);
} catch (Funnel\Exception $e) {
    // EPIPE: funneld is gone (ETIMEDOUT if it were there and slow)
    if ($e->getCode() !== 32 || !str_contains($e->getMessage(), '200 records still wait')) {
        fwrite(STDERR, "FAIL: flush(300) threw {$e->getCode()} {$e->getMessage()}\n");
        exit(1);
    }
}
touch("$dir/phase2");
$p->flush(30000);
$batch(100);
$p->flush(20000);
if ($ok !== 500) { fwrite(STDERR, "FAIL: $ok of 500 reports ok across the restart\n"); exit(1); }
echo "restart.php: ok\n";
