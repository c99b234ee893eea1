<?php
// One record per request, key from ?key=: value "c=<key>.<pid> s=<seq>", where
// seq counts this key's requests (one byte appended to a file per request, so a
// worker killed at any point never leaves the counter half-written). The
// client sends a key's requests one at a time, so seq order is produce order.
// funnel keeps the order of one client's (worker's) records to a partition;
// records of different workers are separate streams (c=<key>.<pid>).
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
$p->produce(getenv('FNL_PHP_TOPIC'), "c=$key.$pid s=$seq", $key);
if (isset($_GET['hold'])) { // the test SIGKILLs this worker now: after produce(), before the reply
    file_put_contents(getenv('FNL_PHP_SEQDIR') . '/../hold.pid', $pid);
    sleep(60);
}
header("X-Funnel: $key $pid $seq");
echo "$key $pid $seq\n";
