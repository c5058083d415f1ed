/* placeholder: CLI being written */
#include <stdio.h>
int main(void)
{
	return 1;
}
