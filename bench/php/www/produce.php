<?php
// One record per request through the worker's persistent funnel client: no
// connection, no handshake, no flush (funneld delivers what is in the ring).
$key = $_GET['key'] ?? 'k';
$p = new Funnel\Producer(['funnel.socket.path' => getenv('FUNNEL_SOCKET')]);
$p->produce('bench', str_repeat('x', 100), $key);
echo "ok $key\n";
