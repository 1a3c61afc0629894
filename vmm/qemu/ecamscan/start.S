/* Multiboot (v1) entry: 32-bit protected mode, flat segments, no paging. */
	.section .multiboot, "a"
	.align 4
	.long 0x1BADB002, 0, -0x1BADB002

	.text
	.globl _start
_start:
	mov	$stack_top, %esp
	call	main
1:	cli
	hlt
	jmp	1b

	.bss
	.align 16
	.skip 16384
stack_top:
