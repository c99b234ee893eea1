<?php
// php_txn.sh's page: ?n=N&commit=0|1|2 opens a transaction with 2 records and commits
// it (1), or leaves it open at request end (0: the extension must abort it then, so the
// next request of this worker can begin), or commits with a timeout of 0 ms (2: when that
// says retriable, the commit is under way at request end and the extension waits for it).
// Answers "ok N" (2: "ok N retriable" or "ok N committed").
$n = (int)($_GET['n'] ?? 0);
$p = new Funnel\Producer(['max.block.ms' => 10000]);
try {
    $p->initTransactions(10000);
    $p->beginTransaction();
    for ($i = 0; $i < 2; $i++)
        $p->produce(getenv('FNL_PHP_TOPIC'), "fpm:$n-$i");
    $commit = (int)($_GET['commit'] ?? 0);
    if ($commit == 1)
        $p->commitTransaction(10000);
    $how = '';
    if ($commit == 2) {
        try {
            $p->commitTransaction(0);
            $how = ' committed';
        } catch (Funnel\KafkaErrorException $e) {
            if (!$e->isRetriable())
                throw $e;
            $how = ' retriable';
        }
    }
    echo "ok $n$how\n";
} catch (Funnel\Exception $e) {
    http_response_code(500);
    echo get_class($e), ': ', $e->getMessage(), "\n";
}
