<?php
// cli_loop.php - what one request's new Funnel\Producer + produce() costs in PHP,
// and produce() alone, over 200,000 iterations (run by cli_cost.sh).
$n = 200000;
$t = hrtime(true);
for ($i = 0; $i < $n; $i++) { $x = "ok $i"; }
$base = hrtime(true) - $t;
$t = hrtime(true);
for ($i = 0; $i < $n; $i++) {
    $p = new Funnel\Producer(['funnel.socket.path' => getenv('FUNNEL_SOCKET')]);
    $p->produce('bench', str_repeat('x', 100), 'k42');
    if ($i % 1000 == 0) $p->poll(0);
}
$d = hrtime(true) - $t - $base;
printf("new Producer + produce: %.0f ns per request\n", $d / $n);
$p = new Funnel\Producer(['funnel.socket.path' => getenv('FUNNEL_SOCKET')]);
$t = hrtime(true);
for ($i = 0; $i < $n; $i++) $p->produce('bench', str_repeat('x', 100), 'k42');
printf("produce only: %.0f ns\n", (hrtime(true) - $t - $base) / $n);
$p->flush();
