<?php
// One record per request, key from ?key=: value "c=<key> s=<seq>", where seq
// counts this key's requests (one byte appended to a file per request, so a
// worker killed at any point never leaves the counter half-written). The
// client sends a key's requests one at a time, so each produce() of a key
// begins after the previous one returned, whichever worker served it: funnel
// keeps that order across workers (clients), so a key's records are one stream.
// Replies "<key> <pid> <seq>" (also in the X-Funnel header) once the record is
// in the ring; no flush(): funneld delivers what a request left in the ring.
$key = $_GET['key'] ?? '';
if (!preg_match('/^[a-z0-9]{1,32}$/', $key)) {
    http_response_code(400);
    exit("bad key\n");
}
$f = fopen(getenv('FNL_PHP_SEQDIR') . "/$key", 'a');
fwrite($f, 'x');
$seq = fstat($f)['size'] - 1;
fclose($f);
$p = new Funnel\Producer(['funnel.socket.path' => getenv('FUNNEL_SOCKET')]);
$pid = getmypid();
// keys k0, k4, ...: a delivery callback with an opaque object and flush(), the
// reply says 200 only once the report came back; k1, k5, ...: callback and
// opaque, poll(0) only (the report mostly comes back after the request ended,
// and is dropped with the request's Producer); the others: produce only.
$n = (int)substr($key, 1);
$mode = $key[0] === 'k' ? $n % 4 : 3;
if ($mode <= 1) {
    $got = null;
    $p->setDrMsgCb(function ($prod, $msg) use (&$got) { $got = $msg; });
    $opaque = new ArrayObject([$key, $seq]);
}
$p->produce(getenv('FNL_PHP_TOPIC'), "c=$key s=$seq", $key, -1, [], 0, $opaque ?? null);
if ($mode === 1) {
    $p->poll(0);
} elseif ($mode === 0) {
    $p->flush(10000);
    if (!$got || $got->err !== 0 || $got->opaque !== $opaque || $got->key !== $key) {
        http_response_code(500);
        exit("no good delivery report\n");
    }
}
if (isset($_GET['hold'])) { // the test SIGKILLs this worker now: after produce(), before the reply
    file_put_contents(getenv('FNL_PHP_SEQDIR') . '/../hold.pid', $pid);
    sleep(60);
}
header("X-Funnel: $key $pid $seq");
echo "$key $pid $seq\n";
