<?php
// php_txn.sh's page: ?n=N&commit=0|1 opens a transaction with 2 records and commits
// it, or leaves it open at request end (the extension must abort it then, so the next
// request of this worker can begin). Answers "ok N".
$n = (int)($_GET['n'] ?? 0);
$p = new Funnel\Producer(['max.block.ms' => 10000]);
try {
    $p->initTransactions(10000);
    $p->beginTransaction();
    for ($i = 0; $i < 2; $i++)
        $p->produce(getenv('FNL_PHP_TOPIC'), "fpm:$n-$i");
    if (!empty($_GET['commit']))
        $p->commitTransaction(10000);
    echo "ok $n\n";
} catch (Funnel\Exception $e) {
    http_response_code(500);
    echo get_class($e), ': ', $e->getMessage(), "\n";
}
