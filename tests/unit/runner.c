/* runner.c — runs every unit test and prints 'N passed, N failed'. */
#include <stdio.h>

#include "test.h"

int test_passed, test_failed;

void test_packet(void);
void test_tls(void);
void test_split(void);
void test_flow(void);
void test_reasm(void);
void test_hold(void);
void test_engine(void);
void test_config(void);
void test_stats(void);
void test_file(void);
void test_hostlist(void);
void test_clienthello(void);
void test_probe(void);
void test_daemon(void);
void test_ladder(void);
void test_learn(void);
void test_learned(void);
void test_learner(void);
void test_rules(void);
void test_ports(void);
void test_nlmsg(void);
void test_windivert_filter(void);
void test_tc(void);

int main(void)
{
	test_packet();
	test_tls();
	test_split();
	test_flow();
	test_reasm();
	test_hold();
	test_engine();
	test_config();
	test_stats();
	test_file();
	test_hostlist();
	test_clienthello();
	test_probe();
	test_daemon();
	test_ladder();
	test_learn();
	test_learned();
	test_learner();
	test_rules();
	test_ports();
	test_nlmsg();
	test_windivert_filter();
	test_tc();
	printf("%d passed, %d failed\n", test_passed, test_failed);
	return test_failed ? 1 : 0;
}
