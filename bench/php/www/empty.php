<?php
// The baseline page: what produce.php does, without the Producer.
$key = $_GET['key'] ?? 'k';
echo "ok $key\n";
