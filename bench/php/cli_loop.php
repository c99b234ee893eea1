<?php
// cli_loop.php - what one request's new Funnel\Producer + produce() costs in PHP,
// and produce() alone: loops of 100,000, each timed 5 times; the fastest of
// each (least disturbed by other load) minus the fastest empty loop.
$n = 100000;
$sock = getenv('FUNNEL_SOCKET');
$best = ['empty' => PHP_INT_MAX, 'new+produce' => PHP_INT_MAX, 'produce' => PHP_INT_MAX];
$one = new Funnel\Producer(['funnel.socket.path' => $sock]);
for ($r = 0; $r < 5; $r++) {
    $t = hrtime(true);
    for ($i = 0; $i < $n; $i++) { $v = str_repeat('x', 100); }
    $best['empty'] = min($best['empty'], hrtime(true) - $t);
    $t = hrtime(true);
    for ($i = 0; $i < $n; $i++) {
        $p = new Funnel\Producer(['funnel.socket.path' => $sock]);
        $p->produce('bench', str_repeat('x', 100), 'k42');
    }
    $best['new+produce'] = min($best['new+produce'], hrtime(true) - $t);
    unset($p);
    $t = hrtime(true);
    for ($i = 0; $i < $n; $i++) $one->produce('bench', str_repeat('x', 100), 'k42');
    $best['produce'] = min($best['produce'], hrtime(true) - $t);
    $one->flush(30000);
}
printf("new Producer + produce(): %.0f ns, produce() alone: %.0f ns (per call, fastest of 5 x %d)\n",
       ($best['new+produce'] - $best['empty']) / $n, ($best['produce'] - $best['empty']) / $n, $n);
